"""What every ticket source over HTTP shares (the generic source, Redmine): bounded reads and the
core's closed set of failures. A library beside the adapters, so they need not import each other."""
