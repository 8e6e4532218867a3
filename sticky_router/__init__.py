"""sticky-router: the process around the routing core (configuration, logging, command line)."""
