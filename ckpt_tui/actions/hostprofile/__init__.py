"""What a restore depends on, of a host: recorded here (``collect_profile``), written as JSON
(``HostProfile.to_json``), read back anywhere (``load_profile``) and judged by the checks."""

from .collect import CRIU_FEATURES, collect_profile, runtime_profile
from .profile import SCHEMA, HostProfile, load_profile, profile_from_dict

__all__ = ["CRIU_FEATURES", "SCHEMA", "HostProfile", "collect_profile", "load_profile", "profile_from_dict",
           "runtime_profile"]
