"""The FastAGI adapter: the same routing decision for dialplan-only PBXs. A thin layer: the AGI
request becomes an `IncomingCall`, `RoutingService` decides, the answer goes back as channel
variables, and what the scripts learn goes to the journal."""
