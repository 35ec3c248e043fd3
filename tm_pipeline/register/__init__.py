"""Registration: create the shipments of an order system in TrackingMore (first in data flow: register → extract)."""
