"""Statistics: pyhf workspaces, CLs limits, expected bands, contours, combination."""
