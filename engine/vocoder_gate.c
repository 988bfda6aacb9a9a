/* The vocoder quality gate (see vocoder_gate.h). */
#include "engine/vocoder_gate.h"

#include <cjson/cJSON.h>

int vocoder_gate_passed(const st_file *f) {
    const char *js = f ? st_meta(f, VOCODER_GATE_KEY) : NULL;
    cJSON *j = js ? cJSON_Parse(js) : NULL;
    int passed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "passed"));
    cJSON_Delete(j);
    return passed;
}

int menhance_vocoder_gate_passed(const char *path) {
    char why[256];
    st_file *f = st_open(path, why, sizeof why);
    int passed = vocoder_gate_passed(f);
    st_close(f);
    return passed;
}
