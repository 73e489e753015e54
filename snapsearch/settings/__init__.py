"""Every ``SNAPSEARCH_*`` setting, declared once (``declared``), typed, read from the environment
(``reading``).

``CommonSettings`` holds what every command reads (the store root, the embedding model);
``ServeSettings`` and ``PipelineSettings`` add the server's and the pipeline's own settings;
``GateSettings`` the gate thresholds. ``load_settings`` turns an invalid value into one
``SettingsError`` line naming the environment variable and the type it should hold. Secrets
(tokens, when they come) are ``SecretStr`` fields: ``repr`` masks them and ``public_dump``
leaves them out.
"""

from .declared import (
    DEFAULT_COLLECTIONS,
    ENV_PREFIX,
    REPO_ROOT,
    SAMPLE_SOURCE,
    SAMPLE_SUITE,
    SETTINGS_CLASSES,
    Collection,
    CommonSettings,
    GateSettings,
    LogLevel,
    PipelineSettings,
    ServeSettings,
)
from .reading import (
    SettingsError,
    declared_variables,
    describe_type,
    env_name,
    load_settings,
    public_dump,
    settings_error_line,
    unknown_variables,
)

__all__ = [
    "DEFAULT_COLLECTIONS", "ENV_PREFIX", "REPO_ROOT", "SAMPLE_SOURCE", "SAMPLE_SUITE",
    "SETTINGS_CLASSES", "Collection", "CommonSettings", "GateSettings", "LogLevel",
    "PipelineSettings", "ServeSettings", "SettingsError", "declared_variables", "describe_type",
    "env_name", "load_settings", "public_dump", "settings_error_line", "unknown_variables",
]
