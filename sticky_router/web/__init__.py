"""The web side: the agent screen (with its pops), the admin pages and JSON API, sign-in.

A thin adapter like the ARI application: it reads and writes Postgres through the same pool and
never sits on a call's path. `create_app` (web/app.py) is the one app factory for the router
process and for tests. One room per audience: auth/, agent/, pops/, admin/, and their words in
i18n/, around a small frame (app, errors, validation, security, sockets, templates).
"""
