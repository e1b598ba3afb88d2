"""Fast simulation of the NA62 2021 beam-dump setup and the ntuple writer."""
