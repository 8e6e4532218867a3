"""The process around the rooms: configuration, logging, the command line, and the router and
FastAGI processes that wire the adapters together (the only code that knows all of them)."""
