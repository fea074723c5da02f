"""Optimize stage: quantize, speed up and package a model for serving, measured before and after."""
