"""The staff side's frame: the admin's home page by role, and the admin classes of other apps' models."""
