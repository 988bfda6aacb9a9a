/* Checks a model file's "frontend" metadata against the engine's front end. */
#include "engine/frontend_meta.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>

#include "dsp/mel.h"
#include "engine/enhance.h"

int frontend_meta_check(const char *json, char *why, size_t len) {
    if (!json) {
        snprintf(why, len, "no \"frontend\" metadata");
        return 0;
    }
    cJSON *j = cJSON_Parse(json);
    if (!cJSON_IsObject(j)) {
        snprintf(why, len, "\"frontend\" metadata is not a JSON object");
        cJSON_Delete(j);
        return 0;
    }
    static const struct {
        const char *key;
        double want;
    } need[] = {{"sample_rate", ENHANCE_RATE}, {"n_fft", ENHANCE_NFFT}, {"hop", ENHANCE_HOP},
                {"n_mels", ENHANCE_MELS},      {"fmin", 0.0},           {"fmax", 8000.0},
                {"floor", MEL_LOG_FLOOR}};
    int ok = 1;
    for (size_t i = 0; ok && i < sizeof need / sizeof need[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, need[i].key);
        /* fabs(want) may be 0 (fmin): compare with an absolute tolerance there */
        double tol = need[i].want != 0.0 ? 1e-6 * fabs(need[i].want) : 1e-9;
        if (!cJSON_IsNumber(v) || !(fabs(v->valuedouble - need[i].want) <= tol)) {
            snprintf(why, len, "front end mismatch: %s should be %g", need[i].key, need[i].want);
            ok = 0;
        }
    }
    cJSON_Delete(j);
    return ok;
}
