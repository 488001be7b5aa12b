// A secret manager for tests, read by ESO's webhook provider (DESIGN.md §8). Standard library only.
module eso-updater/test/cluster/secretserver

go 1.24.2
