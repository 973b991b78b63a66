"""Teachable Machine's projects (images, sounds, drawings) as three families over one package."""
