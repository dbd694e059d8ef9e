/* run_lines.c's one export, registered by sha256_ops.c's init (the same addon, portarc_hash). */
#ifndef PORTARC_RUN_LINES_H
#define PORTARC_RUN_LINES_H
#include <node_api.h>

napi_value run_lines_async(napi_env env, napi_callback_info info);

#endif
