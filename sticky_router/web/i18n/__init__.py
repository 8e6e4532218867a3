"""The interface's words in English and Russian, one module per part of the interface."""
