"""valign.models."""
