"""Settings: typed, frozen values from keywords, a dict, a TOML file, the environment; secrets hidden.

The names here (and ``settings.model``, where ``Settings`` lives) are what the other floors use;
the readers and checks beside them (``sources``, ``checks``, ``rules``, ``credential``,
``components``, ``routing``, ``values``) are this package's own.
"""

from .credential import CredentialKind, OwnCredential
from .model import DeploymentSettings, Settings, budget_key
from .routing import ROUTING_KEYS, redacted_store
from .sources import ENV_VARS, SECRETS, read_unchecked
from .values import Secret

__all__ = [
    "ENV_VARS",
    "ROUTING_KEYS",
    "SECRETS",
    "CredentialKind",
    "DeploymentSettings",
    "OwnCredential",
    "Secret",
    "Settings",
    "budget_key",
    "read_unchecked",
    "redacted_store",
]
