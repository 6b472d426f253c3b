"""Platform connectors: each turns platform events into Commands and renders Messages back."""
