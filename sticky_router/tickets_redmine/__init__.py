"""Redmine as the ticket source: open issues mirrored for the decision, details for the pop, and a
journal note on the issue after every call. Speaks Redmine's REST API with an API key."""
