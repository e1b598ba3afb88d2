// Regenerate light_mesons_pythia8_pp400.txt: light neutral mesons in 400 GeV/c p p (Pythia 8).
//
// Not built or run by na62dump or its tests (Pythia is not a dependency); kept beside the table
// it wrote so that the table can be remade and checked. Pythia 8.3: T. Sjostrand et al., "A
// comprehensive guide to the physics and usage of PYTHIA 8.3", SciPost Phys. Codebases 8 (2022),
// arXiv:2203.11601 (GPL v2 or later; the sources used are those of the PyPI sdist pythia8mc
// 8.318.0). Build: g++ -O1 -std=c++11 -I<pythia>/include generate_light_mesons.cc <objects>.
// Usage: PYTHIA8DATA=<pythia>/share/Pythia8/xmldoc ./generate_light_mesons N_EVENTS SEED \
//        > light_mesons_pythia8_pp400.txt  (the shipped table: N_EVENTS = 100000, SEED = 400)
//
// Settings are those of ALPINIST's public 400 GeV tables (github jjerhot/ALPINIST,
// ALP_production/tab_mesons/softQCD/generate_meson_list.py, which also made the photon table
// ALP_production/tab_gammas/400GeV/EvsPTLoggamma_100kEvts_400GeV_full.dat that
// na62dump.physics.mesons.photon_check compares with): all soft-QCD processes, pdf:pHardSet = 2,
// a 400 GeV/c proton on a proton at rest, pi0 kept stable. Every entry of the event record with
// one of the PDG ids below is counted once, whether it comes from the string or from a decay
// (pi0 from eta, omega, K0S, ...; eta from eta'), since each can decay to a dark photon.
// Elastic events (process code 102) are generated but left out of the normalisation: an
// elastically scattered proton goes on and interacts inelastically further in the 19.6
// interaction lengths of the TAX, so mesons per POT are mesons per inelastic event.
#include "Pythia8/Pythia.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

using namespace Pythia8;

int main(int argc, char* argv[]) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s N_EVENTS SEED\n", argv[0]);
    return 1;
  }
  const long nEvents = std::atol(argv[1]);
  const int seed = std::atoi(argv[2]);
  const double pBeam = 400.0, mP = 0.93827;
  // lab cells: log10(p / GeV) in [-2, 2.65] (93 bins), log10(theta / rad) in [-5, log10 pi]
  const int nP = 93, nT = 110;
  const double lpLo = -2.0, lpHi = 2.65, ltLo = -5.0, ltHi = std::log10(M_PI);
  const int ids[6] = {111, 221, 331, 223, 113, 333};
  const char* names[6] = {"pi0", "eta", "etaprime", "omega", "rho", "phi"};
  std::vector<std::string> settings = {
      "SoftQCD:all = on", "pdf:pHardSet = 2", "111:mayDecay = off", "Beams:idA = 2212",
      "Beams:idB = 2212", "Beams:frameType = 2",
      "Beams:eA = " + std::to_string(std::sqrt(pBeam * pBeam + mP * mP)),
      "Beams:eB = " + std::to_string(mP), "Next:numberCount = 0", "Print:quiet = on",
      "Random:setSeed = on", "Random:seed = " + std::to_string(seed)};
  Pythia pythia("../share/Pythia8/xmldoc", false);  // xml from $PYTHIA8DATA, no banner
  for (const auto& s : settings) pythia.readString(s);
  if (!pythia.init()) return 2;
  std::vector<std::vector<long>> counts(6, std::vector<long>(nP * nT, 0));
  std::vector<long> total(6, 0);
  std::vector<double> sumE(6, 0.0);
  long nInel = 0, nEl = 0, nFail = 0;
  for (long iev = 0; iev < nEvents; ++iev) {
    if (!pythia.next()) { ++nFail; continue; }
    if (pythia.info.code() == 102) { ++nEl; continue; }
    ++nInel;
    for (int i = 0; i < pythia.event.size(); ++i) {
      const Particle& part = pythia.event[i];
      for (int k = 0; k < 6; ++k) {
        if (part.id() != ids[k]) continue;
        double lp = std::log10(std::max(part.pAbs(), 1e-12));
        double lt = std::log10(std::max(part.theta(), 1e-12));
        int ip = (int)std::floor((lp - lpLo) / (lpHi - lpLo) * nP);
        int it = (int)std::floor((lt - ltLo) / (ltHi - ltLo) * nT);
        ip = std::min(std::max(ip, 0), nP - 1);
        it = std::min(std::max(it, 0), nT - 1);
        counts[k][ip * nT + it] += 1;
        total[k] += 1;
        sumE[k] += part.e();
      }
    }
  }
  std::printf("# Light neutral mesons per inelastic 400 GeV/c p p interaction, Pythia %.3f\n",
              pythia.parm("Pythia:versionNumber"));
  std::printf("# made by na62dump/data/generate_light_mesons.cc (see its header comment)\n");
  std::printf("# settings:");
  for (const auto& s : settings) std::printf(" %s;", s.c_str());
  std::printf("\n# events: %ld generated, %ld elastic (not counted), %ld failed\n",
              nEvents, nEl, nFail);
  std::printf("n_generated %ld\nn_elastic %ld\nn_inelastic %ld\n", nEvents - nFail, nEl, nInel);
  std::printf("log10_p_bins %d %.6f %.6f\n", nP, lpLo, lpHi);
  std::printf("log10_theta_bins %d %.6f %.6f\n", nT, ltLo, ltHi);
  std::printf("# per species: total count and mean lab energy (GeV), then one line per non-empty\n"
              "# lab cell: species, i_p, i_theta, count (p, theta outside the ranges are put\n"
              "# in the first or last bin)\n");
  for (int k = 0; k < 6; ++k)
    std::printf("species %s %d %ld %.4f\n", names[k], ids[k], total[k],
                total[k] ? sumE[k] / total[k] : 0.0);
  for (int k = 0; k < 6; ++k)
    for (int c = 0; c < nP * nT; ++c)
      if (counts[k][c]) std::printf("%s %d %d %ld\n", names[k], c / nT, c % nT, counts[k][c]);
  return 0;
}
