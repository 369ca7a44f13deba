"""Pour: lift an open vessel over a container and tip what it holds into it, the vessel staying above the rim."""

RANK = 3
