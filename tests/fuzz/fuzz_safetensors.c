/* libFuzzer target: any bytes -> safetensors reader -> every loader a model file meets: the
 * engine's front-end metadata check, the Mel2Mel loader (a few frames through whatever network
 * loaded) and the DiffWave loader.  Must never crash, leak or read out of bounds (ASan/UBSan). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "engine/frontend_meta.h"
#include "nn/diffwave.h"
#include "nn/mel2mel.h"
#include "nn/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256];
    st_file *f = st_open_memory(data, size, err, sizeof err);
    if (!f) return 0;
    (void)frontend_meta_check(st_meta(f, "frontend"), err, sizeof err);
    nn_diffwave_free(nn_diffwave_load(f, err, sizeof err));
    nn_mel2mel *net = nn_mel2mel_load(f, err, sizeof err);
    /* Keep each run cheap: only small networks are executed. */
    if (net && nn_mel2mel_macs_per_frame(net) < 2e6) {
        enum { T = 5 };
        int F = nn_mel2mel_n_mels(net);
        float *x = calloc((size_t)T * F, sizeof *x), *y = calloc((size_t)T * F, sizeof *y);
        for (int i = 0; x && i < T * F; i++)
            x[i] = (float)(data[i % size] % 17) - 8.0f;
        nn_m2m_stream *s = nn_m2m_stream_create(net);
        if (s && x && y) {
            nn_m2m_stream_process(s, x, 2, y);
            nn_m2m_stream_process(s, x + 2 * F, T - 2, y + 2 * F);
        }
        nn_m2m_stream_destroy(s);
        nn_m2m_offline *o = nn_m2m_offline_create(net, T);
        if (o && x && y) nn_m2m_offline_process(o, x, T, y);
        nn_m2m_offline_destroy(o);
        free(x);
        free(y);
    }
    nn_mel2mel_free(net);
    st_close(f);
    return 0;
}
