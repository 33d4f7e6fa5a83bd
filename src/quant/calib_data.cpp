// Listing and reading calibration samples (see calib_data.h for the folder layouts).
#include "quant/calib_data.h"

#include <algorithm>
#include <filesystem>

#include "io/npy.h"

namespace fs = std::filesystem;

namespace ef {
namespace {

std::string lower_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

bool is_image_extension(const std::string& ext) {
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".gif" || ext == ".tga" ||
         ext == ".pnm" || ext == ".ppm" || ext == ".pgm" || ext == ".psd" || ext == ".hdr";
}

int64_t static_dim(const IoInfo& in, size_t axis) {
  return axis < in.dims.size() ? in.dims[axis] : -1;
}

}  // namespace

const char* calibration_kind_name(CalibrationData::Kind kind) {
  switch (kind) {
    case CalibrationData::Kind::kNpyFiles: return "npy files";
    case CalibrationData::Kind::kSampleFolders: return "sample folders";
    case CalibrationData::Kind::kImages: return "images";
  }
  return "?";
}

CalibrationData CalibrationData::open(const CalibrationSpec& spec, const std::vector<IoInfo>& inputs) {
  std::error_code ec;
  EF_CHECK(fs::is_directory(spec.dir, ec), kInvalidArgument, "calibration data '{}' is not a folder", spec.dir);
  EF_CHECK(!inputs.empty(), kInvalidArgument, "the model has no inputs to calibrate with");
  std::vector<std::string> npy, images, folders, other;
  for (const auto& entry : fs::directory_iterator(spec.dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (entry.is_directory(ec)) {
      folders.push_back(entry.path().string());
    } else if (lower_extension(entry.path()) == ".npy") {
      npy.push_back(entry.path().string());
    } else if (is_image_extension(lower_extension(entry.path()))) {
      images.push_back(entry.path().string());
    } else {
      other.push_back(name);
    }
  }
  EF_CHECK(!ec, kIo, "cannot list calibration folder '{}': {}", spec.dir, ec.message());
  const int kinds = !npy.empty() + !images.empty() + !folders.empty();
  EF_CHECK(kinds > 0, kInvalidArgument,
           "calibration folder '{}' holds no .npy files, sample folders or images{}", spec.dir,
           other.empty() ? "" : fmt::format(" ({} other files, e.g. '{}')", other.size(), other.front()));
  EF_CHECK(kinds == 1, kInvalidArgument,
           "calibration folder '{}' mixes {} .npy files, {} images and {} sub-folders; use one layout", spec.dir,
           npy.size(), images.size(), folders.size());

  CalibrationData data;
  data.spec_ = spec;
  data.inputs_ = inputs;
  if (!folders.empty()) {
    data.kind_ = Kind::kSampleFolders;
    data.samples_ = folders;
  } else {
    data.kind_ = npy.empty() ? Kind::kImages : Kind::kNpyFiles;
    data.samples_ = npy.empty() ? images : npy;
    EF_CHECK(inputs.size() == 1, kInvalidArgument,
             "calibration folder '{}' holds {}, which fit a single-input model; this model has {} inputs: give one "
             "sub-folder per sample holding <input name>.npy for each",
             spec.dir, npy.empty() ? "images" : ".npy files", inputs.size());
  }
  std::sort(data.samples_.begin(), data.samples_.end());
  if (spec.max_samples > 0) {
    EF_CHECK(spec.max_samples <= data.samples_.size(), kInvalidArgument,
             "--calib-samples {} but calibration folder '{}' holds only {} samples", spec.max_samples, spec.dir,
             data.samples_.size());
    data.samples_.resize(spec.max_samples);
  }

  if (data.kind_ == Kind::kImages) {
    const IoInfo& in = inputs[0];
    EF_CHECK(in.dtype == DType::kFloat32, kInvalidArgument,
             "image calibration needs a float32 model input; '{}' is {}", in.name, dtype_name(in.dtype));
    EF_CHECK(!in.has_shape || in.dims.size() == 4, kInvalidArgument,
             "image calibration needs a rank-4 model input; '{}' is {}", in.name, in.shape_str());
    bool nchw = true;
    if (spec.nchw) {
      nchw = *spec.nchw;
    } else if (static_dim(in, 1) != 1 && static_dim(in, 1) != 3 &&
               (static_dim(in, 3) == 1 || static_dim(in, 3) == 3)) {
      nchw = false;
    }
    ImagePreprocess& pre = data.spec_.image;
    pre.nchw = nchw;
    const size_t c_axis = nchw ? 1 : 3, h_axis = nchw ? 2 : 1, w_axis = nchw ? 3 : 2;
    const int64_t c = static_dim(in, c_axis);
    EF_CHECK(c < 0 || c == 1 || c == 3, kInvalidArgument,
             "image calibration: input '{}' {} has {} channels in {} layout (images give 1 or 3; --layout?)", in.name,
             in.shape_str(), c, nchw ? "NCHW" : "NHWC");
    pre.channels = c == 1 ? 1 : 3;
    if (pre.height <= 0 || pre.width <= 0) {
      pre.height = static_cast<int>(static_dim(in, h_axis));
      pre.width = static_cast<int>(static_dim(in, w_axis));
      EF_CHECK(pre.height > 0 && pre.width > 0, kInvalidArgument,
               "input '{}' {} has no static height/width: give --image-size H,W", in.name, in.shape_str());
    }
  }
  return data;
}

Tensor CalibrationData::checked(Tensor t, size_t input, const std::string& file) {
  const IoInfo& in = inputs_[input];
  EF_CHECK(t.dtype() == in.dtype, kInvalidArgument, "calibration sample '{}': dtype {} but input '{}' is {}", file,
           dtype_name(t.dtype()), in.name, dtype_name(in.dtype));
  if (in.has_shape) {
    // A sample saved without the batch dim of a batch-1 input is accepted as [1, ...].
    if (t.rank() + 1 == in.dims.size() && in.dims[0] <= 1) {
      Shape s = t.shape();
      s.insert(s.begin(), 1);
      t = t.reshaped(s);
    }
    bool ok = t.rank() == in.dims.size();
    for (size_t d = 0; ok && d < t.rank(); ++d) ok = in.dims[d] < 0 || in.dims[d] == t.dim(d);
    EF_CHECK(ok, kInvalidArgument, "calibration sample '{}': shape {} does not fit input '{}' {}", file,
             shape_str(t.shape()), in.name, in.shape_str());
  }
  if (first_shapes_.size() <= input) first_shapes_.resize(inputs_.size());
  Shape& first = first_shapes_[input];
  if (first.empty() && !t.shape().empty()) first = t.shape();
  EF_CHECK(first == t.shape(), kInvalidArgument,
           "calibration sample '{}': shape {} differs from the first sample's {} for input '{}'", file,
           shape_str(t.shape()), shape_str(first), in.name);
  return t;
}

NamedTensors CalibrationData::load(size_t i) {
  const std::string& path = samples_.at(i);
  NamedTensors out;
  switch (kind_) {
    case Kind::kNpyFiles:
      out.emplace_back(inputs_[0].name, checked(read_npy(path), 0, path));
      break;
    case Kind::kImages: {
      Image img = read_image(path, spec_.image.channels);
      out.emplace_back(inputs_[0].name, checked(image_to_tensor(img, spec_.image), 0, path));
      break;
    }
    case Kind::kSampleFolders:
      for (size_t k = 0; k < inputs_.size(); ++k) {
        const std::string file = (fs::path(path) / (file_safe_name(inputs_[k].name) + ".npy")).string();
        std::error_code ec;
        EF_CHECK(fs::is_regular_file(file, ec), kInvalidArgument,
                 "calibration sample folder '{}' has no '{}.npy' for input '{}'", path,
                 file_safe_name(inputs_[k].name), inputs_[k].name);
        out.emplace_back(inputs_[k].name, checked(read_npy(file), k, file));
      }
      break;
  }
  return out;
}

}  // namespace ef
