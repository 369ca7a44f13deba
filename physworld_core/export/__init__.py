"""Datasets out of the lake: LeRobot v3 from recorded rollouts, sharded clips for video-model training."""
