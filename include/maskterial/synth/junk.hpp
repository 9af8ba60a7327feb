#pragma once
// What the generator draws besides flakes: the distractors of real scans (thick crystals and their blurred
// edges, lithographic markers and their letters, scratches, tape residue, dirt). Junk is never a flake: it is
// recorded apart (SynthSample::junk_ids, annotations_junk.json) as negative evidence for a flake score.
#include <cstdint>
#include <string>
#include <vector>

namespace maskterial::synth {

// Values are the categories of annotations_junk.json (1-based, stable: files depend on them).
enum class JunkKind : uint8_t {
  thick_crystal = 1,    // bulk crystal or fragment with a sharp edge (possibly a faint rim)
  blurred_crystal = 2,  // bulk crystal whose edge is blurred into the substrate: its halo mimics thin layers
  marker = 3,           // lithographic marker: square, cross or L-mark
  letter = 4,           // the letters and numbers written beside markers
  scratch = 5,
  residue = 6,          // tape residue: a large faint blotch
  dirt = 7,             // specks and blobs, dark or bright
};
constexpr int kJunkKinds = 7;

// "thick_crystal", "blurred_crystal", ...: the category names of annotations_junk.json.
const std::string& junk_kind_name(JunkKind kind);

}  // namespace maskterial::synth
