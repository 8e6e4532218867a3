"""The ARI adapter: the Stasis application that tries the sticky agent (or hands the call to the
queue), on the project's own aiohttp ARI client. Every decision comes from `RoutingService`;
everything learned goes to the journal."""
