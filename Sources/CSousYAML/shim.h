#ifndef CSOUSYAML_SHIM_H
#define CSOUSYAML_SHIM_H
#include <yaml.h>
#endif
