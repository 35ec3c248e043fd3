"""Webhook pushes: a receiver that lands them durably, and the seal that turns them into lake extractions."""
