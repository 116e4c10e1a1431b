"""The app's icons, installed as the data package `digits_assets` (made by make_icon.py)."""
