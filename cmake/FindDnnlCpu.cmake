# Finds oneDNN (Debian: libdnnl-dev) as a CPU library and defines the imported target DNNL::dnnl.
#
# Why not find_package(dnnl): Debian builds oneDNN with its OpenCL GPU runtime, and its
# dnnl-config.cmake then demands the OpenCL *headers* (ocl-icd-opencl-dev) at configure time,
# although harpe only ever creates CPU engines and never includes an OpenCL header. The runtime
# loader libOpenCL.so.1 that libdnnl links against comes with libdnnl itself (a package
# dependency), so finding the header and library directly is all the build needs.
find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
find_library(DNNL_LIBRARY NAMES dnnl)
if(DNNL_INCLUDE_DIR AND EXISTS "${DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h")
  file(STRINGS "${DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h" _dnnl_ver
       REGEX "^#define DNNL_VERSION_(MAJOR|MINOR|PATCH) ")
  string(REGEX REPLACE ".*MAJOR ([0-9]+).*MINOR ([0-9]+).*PATCH ([0-9]+).*" "\\1.\\2.\\3"
         DnnlCpu_VERSION "${_dnnl_ver}")
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(DnnlCpu
  REQUIRED_VARS DNNL_LIBRARY DNNL_INCLUDE_DIR
  VERSION_VAR DnnlCpu_VERSION
  REASON_FAILURE_MESSAGE "install libdnnl-dev (scripts/setup.sh does)")
if(DnnlCpu_FOUND AND NOT TARGET DNNL::dnnl)
  add_library(DNNL::dnnl UNKNOWN IMPORTED)
  set_target_properties(DNNL::dnnl PROPERTIES
    IMPORTED_LOCATION "${DNNL_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${DNNL_INCLUDE_DIR}")
endif()
mark_as_advanced(DNNL_INCLUDE_DIR DNNL_LIBRARY)
