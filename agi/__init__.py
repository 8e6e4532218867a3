"""FastAGI adapter: the same routing decision for dialplan-only PBXs (issue 6; not built yet).

It will be a thin layer: parse the AGI request, build a `routing_core.IncomingCall`, ask
`routing_core.RoutingService`, answer with channel variables.
"""
