"""Digits desktop app (Tkinter): draw a digit and watch the network read it; train it live."""
