"""The masking rules: secret-looking names and values, found in free bytes with their spans."""

from __future__ import annotations

import pytest

from ckpt_tui.model import load_checkpoint
from ckpt_tui.model.masking import (
    ASSIGNMENT,
    ENV_VALUE,
    FILLER,
    MASK,
    entropy,
    env_value_spans,
    find_secrets,
    is_secret_name,
    is_secret_value,
    mask_text,
    masked,
    redact_bytes,
    redact_env_entry,
    redact_stream,
    redact_text,
    should_mask,
    value_rule,
)

from .conftest import DATA

# made-up values in each issuer's format (none of them is a live credential)
SAMPLES = {
    "aws-access-key-id": "AKIAIOSFODNN7EXAMPLE",
    "github-token": "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "gitlab-token": "glpat-" + "x1Y2z3A4b5C6d7E8f9G0",
    "slack-token": "xoxb-" + "123456789012-abcdefABCDEF",
    "slack-webhook": "https://hooks.slack.com/services/T0ABCDEFG/B0ABCDEFG/" + "abcdefghijklmnopqrstuvwx",
    "stripe-key": "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "google-api-key": "AIza" + "SyA-1234567890abcdefghijklmnopqrstu",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "pem-private-key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
                       "-----END RSA PRIVATE KEY-----",
}


@pytest.mark.parametrize("rule_id,value", sorted(SAMPLES.items()))
def test_each_value_rule_finds_its_format(rule_id, value):
    rule = value_rule(value)
    assert rule is not None and rule.id == rule_id
    data = b"junk \x00\x01 " + value.encode() + b" more junk"
    [hit] = list(find_secrets(data))
    assert hit.rule.id == rule_id and hit.value(data) == value.encode()


def test_url_credentials_masks_only_the_password():
    data = b"DATABASE_URL=postgres://app:s3cr3t-pw@db:5432/app"
    hits = list(find_secrets(data))
    assert [h.value(data) for h in hits] == [b"s3cr3t-pw"]
    assert hits[0].rule.id == "url-credentials"


def test_assignments_of_secret_names_keep_the_name():
    data = b"\x00API_TOKEN=tok_live_4f8a2c91e7b3\x00GREETING=hello\x00DB_PASSWORD: 'hunter2'\x00"
    hits = list(find_secrets(data))
    assert [(h.rule.id, h.value(data)) for h in hits] == [
        ("secret-assignment", b"tok_live_4f8a2c91e7b3"), ("secret-assignment", b"hunter2")]
    out, _ = redact_bytes(data)
    assert len(out) == len(data) and b"API_TOKEN=" + FILLER * 20 in out and b"GREETING=hello" in out
    assert b"hunter2" not in out


def test_a_value_rule_wins_over_the_assignment_it_sits_in():
    value = SAMPLES["github-token"]
    data = f"GITHUB_TOKEN={value}".encode()
    [hit] = list(find_secrets(data))
    assert hit.rule.id == "github-token" and hit.rule is not ASSIGNMENT


def test_names_values_and_masks():
    assert is_secret_name("DB_PASSWORD") and is_secret_name("api_token") and not is_secret_name("GREETING")
    assert is_secret_value(SAMPLES["jwt"]) and not is_secret_value("hello-from-web")
    assert should_mask("CHILD_VAR", SAMPLES["aws-access-key-id"]) and not should_mask("DB_PASSWORD", "")
    assert masked("DB_PASSWORD", "hunter2") == MASK and masked("DB_PASSWORD", "hunter2", reveal=True) == "hunter2"
    assert mask_text(f"curl -H 'Authorization: Bearer {SAMPLES['jwt']}' x") == f"curl -H 'Authorization: Bearer {MASK}' x"
    assert entropy(b"aaaa") == 0.0 and entropy(b"tok_live_4f8a2c91e7b3") > 3.5


def test_the_fixture_secrets_are_found():
    """ps-tree's DB_PASSWORD environment value and memhog's heap token (real checkpoints)."""
    with load_checkpoint(DATA / "ps-tree.tar.gz") as ck:
        env = {v.name: v.value for p in ck.process_list() for v in p.env}
        assert should_mask("DB_PASSWORD", env["DB_PASSWORD"]) and not should_mask("APP_MODE", env["APP_MODE"])
    with load_checkpoint(DATA / "memhog-16m-threads.tar.zst") as ck:
        reader = ck.memory(1)
        found = []
        for vaddr, _offset, length in reader.present_spans():
            data = reader.read(vaddr, length)
            found += [h.value(data) for h in find_secrets(data)]
        assert b"tok_live_4f8a2c91e7b3" in found


# -- same-length redaction (what `redact` writes) -------------------------------------------------
def _mixed_bytes(seed: int, count: int) -> bytes:
    """Random text and binary junk with secrets of every kind between NULs (as environ and heaps hold them)."""
    import random

    rnd = random.Random(seed)
    secrets = [f"API_TOKEN={SAMPLES['github-token']}", "DB_PASSWORD=hunter2", SAMPLES["jwt"], SAMPLES["pem-private-key"],
               "postgres://app:s3cr3t-pw@db/app", SAMPLES["aws-access-key-id"]]
    parts = []
    for _ in range(count):
        parts.append(bytes(rnd.choice(b"abc xyz=\n\x01\xff") for _ in range(rnd.randint(0, 400))) + b"\x00")
        parts.append(rnd.choice(secrets).encode() + b"\x00")
    return b"".join(parts)


@pytest.mark.parametrize("window", [61, 1000, 1 << 20])
def test_redact_stream_equals_redacting_the_whole_at_once(window):
    """Bounded windows with the longest secret's reach kept: the same fills as one pass over everything,
    secrets across window ends included."""
    import io

    data = _mixed_bytes(7, 300)
    want, hits = redact_bytes(data)
    out = io.BytesIO()
    ranges = redact_stream(io.BytesIO(data).read, out.write, window=window, reach=512)
    assert out.getvalue() == want
    assert [(lo, hi, rule) for lo, hi, rule in ranges] == [(h.start, h.end, h.rule.id) for h in hits]


def test_redact_stream_fills_extra_ranges_and_keeps_the_length():
    import io

    data = b"GREETING=hello\x00MODE=a b c\x00"
    out = io.BytesIO()
    ranges = redact_stream(io.BytesIO(data).read, out.write, extra=[(20, 25, ENV_VALUE)], window=4)
    assert out.getvalue() == b"GREETING=hello\x00MODE=*****\x00" and ranges == [(20, 25, ENV_VALUE)]


def test_environment_values_are_filled_whole_as_the_ui_masks_them():
    block = b"PATH=/bin\x00DB_PASSWORD=two words\x00CHILD=" + SAMPLES["aws-access-key-id"].encode() + b"\x00=odd\x00"
    spans = env_value_spans(block)
    assert [block[lo:hi] for lo, hi, _ in spans] == [b"two words", SAMPLES["aws-access-key-id"].encode()]
    assert redact_env_entry("DB_PASSWORD=h\u00e9") == ("DB_PASSWORD=***", ENV_VALUE)  # UTF-8 length kept
    assert redact_env_entry("GREETING=hello") == ("GREETING=hello", "")
    text, hits = redact_text("--token=abcd1234 -v")
    assert text == "--token=******** -v" and hits[0].rule is ASSIGNMENT


# -- find_secrets tries the rules only at their anchors: the same hits as every rule over every byte --
def reference_find_secrets(data: bytes, start: int = 0, end: int | None = None) -> list:
    """The definition: each rule's regex over all of data[start:end], earliest hit winning."""
    from ckpt_tui.model.masking import VALUE_RULES, SecretHit

    stop = len(data) if end is None else min(end, len(data))
    found = []
    for rule in VALUE_RULES:
        group = "value" if "value" in rule.pattern.groupindex else 0
        found += [SecretHit(rule, m.start(group), m.end(group)) for m in rule.pattern.finditer(data, start, stop)]
    for m in ASSIGNMENT.pattern.finditer(data, start, stop):
        name = m.group("name").decode("latin-1")
        if is_secret_name(name):
            found.append(SecretHit(ASSIGNMENT, m.start("value"), m.end("value"), name))
    found.sort(key=lambda h: (h.start, h.rule is ASSIGNMENT, -h.end))
    out, last = [], start
    for hit in found:
        if hit.start >= last:
            out.append(hit)
            last = hit.end
    return out


def _key(hits) -> list:
    return [(h.rule.id, h.start, h.end, h.name) for h in hits]


# pieces that make rules match, almost match, overlap and chain
PIECES = [*SAMPLES.values(), "AKIA", "ASIA", "ghp_", "github_pat_", "glpat-", "xoxb-", "sk_live_", "rk_live_", "_live_",
          "AIza", "eyJ", "eyJhbGciOi", ".", "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----",
          "-----BEGIN EC PRIVATE KEY-----", "://", "https://", "postgres://u:", "@", "PASSWORD", "password", "pAsSwD",
          "api_key", "KEY", "Token", "SECRET", "x_secret", "credential", "PRIVATE", "auth", "=", ":", " ", "\t", "'",
          '"', "Bearer ", "Basic\t", "\n", "\x00", ";", ",", "&", "{", "(", "-", "_", ".", "/", "hunter2",
          "AKIAIOSFODNN7EXAMPL", "0123456789ABCDEF", "abcdefghijklmnop", "\xff\xfe", "é",
          "postgres://app:pw12@", "mongodb+srv://u:p@", "x://a:b@", "ab.cd://u:p@", "v-v-v-v-", "x=", "PASS=",
          "DB_PASSWORD=hunter2", "Authorization: Bearer "]


def _buffers():
    from hypothesis import strategies as st

    piece = st.one_of(st.sampled_from(PIECES), st.text(alphabet="AZaz09_-=:. \n", max_size=12),
                      st.binary(max_size=8).map(lambda b: b.decode("latin-1")))
    return st.lists(piece, max_size=40).map(lambda parts: "".join(parts).encode("utf-8", "surrogateescape"))


def test_anchored_search_gives_every_rules_own_hits():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=1500, deadline=None)
    @given(_buffers(), st.integers(0, 40), st.integers(0, 40))
    def check(data, cut_start, cut_end):
        start = min(cut_start, len(data))
        end = max(start, len(data) - cut_end)
        assert _key(find_secrets(data, start, end)) == _key(reference_find_secrets(data, start, end))
        assert _key(find_secrets(data)) == _key(reference_find_secrets(data))

    check()


def test_anchored_search_on_the_tricky_chains():
    cases = [
        b"x=PASSWORD=hunter22",  # a non-secret name whose value holds a secret name: no hit
        b"a.b-api_key=abcd1234",  # the name may start after '.' or '-'
        b"eyJaaaaaaaaaaa.eyJbbbbbbbbbbb.eyJcccccccccc.ddddddddddd",
        b"ftp://u:pw@x postgres://app:s3cr3t@db " * 3,
        b"AKIAIOSFODNN7EXAMPLEAKIAIOSFODNN7EXAMPLE AKIAIOSFODNN7EXAMPLE",
        b"TOKEN=" + b"k" * 600 + b" TOKEN=abcd",
        b"-----BEGIN RSA PRIVATE KEY-----\n" + b"A" * 20 + b"\n-----END RSA PRIVATE KEY----- KEY=abcdef",
        b"zz" * 3000 + b"GITHUB_TOKEN=ghp_" + b"a" * 36,
        b"x=" + b"v-" * 40 + b"PASSWORD=hunter22",  # the chain starts far before the secret-looking name
        b"x=" + b"v-" * 40 + b"\nPASSWORD=hunter22",  # ... and is cut by a newline
        b"q=" + b"v-" * 300 + b"TOKEN=abcdefgh",  # longer than the longest match: the scan restarts inside it
    ]
    for data in cases:
        assert _key(find_secrets(data)) == _key(reference_find_secrets(data)), data[:60]
        for start in (0, 1, 2, 5, 13):
            assert _key(find_secrets(data, start)) == _key(reference_find_secrets(data, start)), (data[:60], start)


def test_every_rule_is_bounded_and_anchored():
    """find_secrets relies on it: a finite longest match, within the streaming overlap, and an
    anchor in every sample of the rule's format."""
    from ckpt_tui.model.masking import MAX_SECRET_BYTES, VALUE_RULES

    for rule in (*VALUE_RULES, ASSIGNMENT):
        assert 0 < rule.longest <= MAX_SECRET_BYTES, rule.id
        assert rule.anchors, rule.id
    for rule_id, value in SAMPLES.items():
        rule = next(r for r in VALUE_RULES if r.id == rule_id)
        m = rule.pattern.search(value.encode())
        assert any(m.start() + rule.lead[0] <= value.encode().find(a, m.start()) <= m.start() + rule.lead[1]
                   for a in rule.anchors if value.encode().find(a, m.start()) != -1), rule_id


def test_hits_name_the_assignment():
    data = b"\x00DB_PASSWORD=hunter2\x00"
    [hit] = list(find_secrets(data))
    assert hit.name == "DB_PASSWORD" and hit.value(data) == b"hunter2"
