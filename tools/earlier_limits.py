"""Derive the earlier experiments' dark-photon limits shipped in na62dump/data/earlier_limits/.

Source: DarkCast (P. Ilten, Y. Soreq, M. Williams, W. Xue, "Serendipity in dark photon
searches", JHEP 06 (2018) 004, arXiv:1801.04847), its ``limits/<name>.lmt`` tables of the
dark-photon model (columns: mass in GeV, lower coupling, optional upper coupling), read from a
git checkout of github.com/micha-a-schmidt/darkcast (a mirror of gitlab.com/philten/darkcast;
GPL-2.0-or-later). Only the numeric tables are used.

Derivation (the only changes): rows above ``M_MAX_GEV`` dropped (the NA62 plots end at 1.8 GeV);
a one-sided (prompt) limit gets the upper coupling 1 (excluded from the lower coupling up); a
lower coupling above 1 (DarkCast's "no limit here") becomes 1, an empty band at that mass.

    python tools/earlier_limits.py /path/to/darkcast.git   # rewrites the tables
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

M_MAX_GEV = 2.0
OUT = Path(__file__).resolve().parent.parent / "na62dump" / "data" / "earlier_limits"
#: name of the DarkCast limit -> (label drawn in the plot, paper)
LIMITS = {
    "E137_Andreas2012mt": ("E137", "J. D. Bjorken et al., PRD 38 (1988) 3375; "
                           "curve of S. Andreas et al., PRD 86 (2012) 095019, fig. 2"),
    "E141_Riordan1987aw": ("E141", "E. M. Riordan et al., PRL 59 (1987) 755; "
                           "curve of S. Andreas et al., PRD 86 (2012) 095019, fig. 2"),
    "E774_Bross1989mp": ("E774", "A. Bross et al., PRL 67 (1991) 2942"),
    "CHARM_Bergsma1985qz": ("CHARM", "F. Bergsma et al., PLB 157 (1985) 458; "
                            "curve of J. Blumlein, J. Brunner, PLB 731 (2014) 320, fig. 5"),
    "NuCAL_Blumlein1990ay": ("NuCal", "J. Blumlein et al., Z. Phys. C 51 (1991) 341; "
                             "curve of J. Blumlein, J. Brunner, PLB 731 (2014) 320, fig. 5 (pi0)"),
    "NuCAL_Blumlein1991xh": ("NuCal", "J. Blumlein et al., Int. J. Mod. Phys. A 7 (1992) "
                             "3835; curve of J. Blumlein, J. Brunner, PLB 731 (2014) 320, "
                             "fig. 5 (p brems)"),
    "Orsay_Davier1989wz": ("Orsay", "M. Davier, H. Nguyen Ngoc, PLB 229 (1989) 150"),
    "KEK_Konaka1986cb": ("KEK", "A. Konaka et al., PRL 57 (1986) 659"),
    "NOMAD_Astier2001ck": ("NOMAD", "P. Astier et al., PLB 506 (2001) 27"),
    "PS191_Bernardi1985ny": ("PS191", "G. Bernardi et al., PLB 166 (1986) 479"),
    "NA64_Banerjee2019hmi": ("NA64", "D. Banerjee et al. (NA64), PRD 101 (2020) 071101"),
    "NA48_Batley2015lha": ("NA48/2", "J. R. Batley et al. (NA48/2), PLB 746 (2015) 178"),
    "BaBar_Lees2014xha": ("BaBar", "J. P. Lees et al. (BaBar), PRL 113 (2014) 201801"),
    "LHCb_Aaij2019bvg_prompt": ("LHCb", "R. Aaij et al. (LHCb), PRL 124 (2020) 041801"),
}


def main(git_dir: str) -> None:
    commit = subprocess.run(["git", "--git-dir", git_dir, "rev-parse", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (label, paper) in LIMITS.items():
        text = subprocess.run(["git", "--git-dir", git_dir, "show", f"HEAD:limits/{name}.lmt"],
                              check=True, capture_output=True, text=True).stdout
        rows = []
        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            values = [float(v) for v in line.split()]
            if values[0] > M_MAX_GEV:
                continue
            low = min(values[1], 1.0)
            high = values[2] if len(values) > 2 else 1.0
            rows.append(f"{values[0]:.5g} {low:.5g} {high:.5g}")
        header = [
            f"# label: {label}",
            f"# Dark-photon 90% CL exclusion of {label}: {paper}.",
            "# Compiled by DarkCast: P. Ilten, Y. Soreq, M. Williams, W. Xue, JHEP 06 (2018) 004,",
            "#   arXiv:1801.04847. Table from github.com/micha-a-schmidt/darkcast (mirror of",
            f"#   gitlab.com/philten/darkcast), path limits/{name}.lmt,",
            f"#   commit {commit},",
            "#   GPL-2.0-or-later (c) Philip Ilten, Yotam Soreq, Mike Williams, Wei Xue.",
            "# Derived by tools/earlier_limits.py: masses <= 2 GeV; one-sided limits closed at",
            "#   eps = 1; 'no limit' lower couplings (> 1) set to 1 (an empty band there).",
            "# columns: mass_gev eps_low eps_high (excluded between the two)",
        ]
        path = OUT / f"{name}.txt"
        path.write_text("\n".join(header + rows) + "\n")
        print(f"{path.name}: {len(rows)} rows")


if __name__ == "__main__":
    main(sys.argv[1])
