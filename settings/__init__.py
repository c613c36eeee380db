"""Settings: typed, frozen values from keywords, a dict, a TOML file, the environment; secrets hidden."""
