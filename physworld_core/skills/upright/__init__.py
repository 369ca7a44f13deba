"""Stand upright: lift a fallen object, tip it base-down and set it standing on the table where it lay."""

RANK = 2
