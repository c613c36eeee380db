"""The composition root: the dependency-injector container, the adapter table, routing and fork wiring."""

from .root import Clients, Container, build_client, clients_from_file, from_dict, from_env, from_file

__all__ = ["Clients", "Container", "build_client", "clients_from_file", "from_dict", "from_env", "from_file"]
