"""ARI application: Stasis calls routed to the sticky agent (issue 3; not built yet).

It will be a thin layer over `routing_core`: every decision comes from `RoutingService.decide`,
every event goes to `CallRecorder`.
"""
