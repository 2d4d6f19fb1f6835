"""ieum (이음): a helpdesk assistant for the W4C → 희망이음 migration."""
