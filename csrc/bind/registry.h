// Each kernel family registers its bindings from its own bind_*.cpp with
//   NK_REGISTER_BINDINGS(conv, bind_conv);
// so adding a family touches no shared file. module.cpp calls them in name order.
#pragma once
#include <pybind11/pybind11.h>

#include <map>
#include <string>

namespace nk {

using BindFn = void (*)(pybind11::module_&);

inline std::map<std::string, BindFn>& binding_registry() {
  static std::map<std::string, BindFn> r;
  return r;
}

struct BindingRegistrar {
  BindingRegistrar(const char* name, BindFn fn) { binding_registry()[name] = fn; }
};

}  // namespace nk

#define NK_REGISTER_BINDINGS(name, fn) \
  static ::nk::BindingRegistrar nk_registrar_##name(#name, fn)
