"""The supervisors' and admins' pages and JSON API: settings, people, flags and blocks,
outages, the live view, the dashboard and what-if, the ticket source."""
