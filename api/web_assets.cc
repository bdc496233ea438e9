#include "api/web_assets.h"

#include <algorithm>
#include <map>

namespace tl::api {

const WebAsset* FindWebAsset(std::string_view path) {
  static const std::map<std::string_view, const WebAsset*> index = [] {
    std::map<std::string_view, const WebAsset*> m;
    for (const WebAsset& a : WebAssets()) m.emplace(a.path, &a);
    return m;
  }();
  auto it = index.find(path);
  return it == index.end() ? nullptr : it->second;
}

}  // namespace tl::api
