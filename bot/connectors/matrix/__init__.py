"""Matrix through matrix-nio, end-to-end encrypted."""
