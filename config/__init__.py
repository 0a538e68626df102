"""Settings and data files (runtime catalogue, password lists). Imports nothing of ours."""

from config.settings import Environment, LogFormat, Settings, load_settings

__all__ = ["Environment", "LogFormat", "Settings", "load_settings"]
