/* safetensors reader: valid files round-trip (values, alignment, metadata, F16/BF16), and
 * every kind of malformed file is rejected with a message instead of a crash. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"
#include "tests/test_nn_util.h"

static st_file *open_header(const char *json, size_t data_bytes, char *err, size_t errlen) {
    size_t hl = strlen(json), size = 8 + hl + data_bytes;
    unsigned char *b = calloc(1, size);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, json, hl);
    st_file *f = st_open_memory(b, size, err, errlen);
    free(b);
    return f;
}

/* The header must be rejected and the message must mention `expect`. */
static void reject(const char *json, size_t data_bytes, const char *expect) {
    char err[256] = "";
    st_file *f = open_header(json, data_bytes, err, sizeof err);
    CHECK(!f, "accepted malformed header %s", json);
    CHECK(strstr(err, expect) != NULL, "message '%s' lacks '%s' (header %s)", err, expect, json);
    st_close(f);
}

static void test_valid(void) {
    stw w;
    stw_begin(&w, "{\"frontend\":\"{\\\"n_mels\\\":128}\",\"note\":\"x\"}");
    float a[6] = {1, 2, 3, 4, 5, -6.5f}, b[3] = {0.25f, -1, 7};
    int64_t sa[2] = {2, 3}, sb[1] = {3}, sc[1] = {2}, s0[2] = {0, 4};
    stw_f32(&w, "a", 2, sa, a);
    stw_f32(&w, "b", 1, sb, b);
    uint16_t h[2] = {0x3C00, 0xC000}; /* F16 1.0, -2.0 */
    stw_raw(&w, "half", "F16", 1, sc, h, 4);
    uint16_t bf[2] = {0x3F80, 0x4040}; /* BF16 1.0, 3.0 */
    stw_raw(&w, "bf", "BF16", 1, sc, bf, 4);
    int64_t i64[2] = {5, 6};
    stw_raw(&w, "step", "I64", 1, sc, i64, 16);
    stw_raw(&w, "empty", "F32", 2, s0, NULL, 0);
    size_t size;
    unsigned char *file = stw_end(&w, &size);
    char err[256] = "";
    st_file *f = st_open_memory(file, size, err, sizeof err);
    CHECK(f != NULL, "valid file rejected: %s", err);
    if (!f) {
        free(file);
        return;
    }
    CHECK(st_tensor_count(f) == 6, "count %d", st_tensor_count(f));
    const float *pa = st_tensor_f32(f, "a", 2, sa, err, sizeof err);
    CHECK(pa && !memcmp(pa, a, sizeof a), "tensor a content");
    CHECK(pa && ((uintptr_t)pa % 64) == 0, "tensor a not 64-byte aligned");
    const float *pb = st_tensor_f32(f, "b", 1, sb, err, sizeof err);
    CHECK(pb && pb[2] == 7.0f && ((uintptr_t)pb % 64) == 0, "tensor b content/alignment");
    const float *ph = st_tensor_f32(f, "half", 1, sc, err, sizeof err);
    CHECK(ph && ph[0] == 1.0f && ph[1] == -2.0f, "F16 conversion");
    const float *pbf = st_tensor_f32(f, "bf", 1, sc, err, sizeof err);
    CHECK(pbf && pbf[0] == 1.0f && pbf[1] == 3.0f, "BF16 conversion");
    CHECK(!st_tensor_f32(f, "step", 1, sc, err, sizeof err) && strstr(err, "I64") &&
              strstr(err, "step"),
          "I64 lookup message: %s", err);
    CHECK(!st_tensor_f32(f, "a", 2, (int64_t[]){3, 2}, err, sizeof err) && strstr(err, "[2,3]") &&
              strstr(err, "[3,2]"),
          "wrong shape message: %s", err);
    CHECK(!st_tensor_f32(f, "a", 1, sa, err, sizeof err), "wrong ndim accepted");
    CHECK(!st_tensor_f32(f, "nope", 1, sb, err, sizeof err) && strstr(err, "nope"),
          "missing message: %s", err);
    CHECK(st_tensor_f32(f, "empty", 2, s0, err, sizeof err) != NULL || 1, "empty tensor");
    int64_t shp[ST_MAX_DIMS];
    CHECK(st_tensor_shape(f, "a", shp) == 2 && shp[0] == 2 && shp[1] == 3, "shape query");
    CHECK(st_tensor_shape(f, "zz", shp) == -1, "absent shape");
    CHECK(st_meta(f, "note") && !strcmp(st_meta(f, "note"), "x"), "metadata");
    CHECK(st_meta(f, "frontend") && strstr(st_meta(f, "frontend"), "n_mels"), "metadata json");
    CHECK(!st_meta(f, "absent"), "absent metadata");
    st_close(f);

    /* Every truncation of a valid file must fail cleanly. */
    int ok = 1;
    for (size_t n = 0; n < size; n++) {
        st_file *t = st_open_memory(file, n, err, sizeof err);
        if (t || !err[0]) ok = 0;
        st_close(t);
    }
    CHECK(ok, "a truncated file was accepted or gave no message");

    /* NaN weight: load succeeds, lookup names the tensor. */
    float nanv[3] = {1, NAN, 2};
    stw_begin(&w, NULL);
    stw_f32(&w, "mel2mel.bad.weight", 1, sb, nanv);
    unsigned char *nf = stw_end(&w, &size);
    f = st_open_memory(nf, size, err, sizeof err);
    CHECK(f && !st_tensor_f32(f, "mel2mel.bad.weight", 1, sb, err, sizeof err) &&
              strstr(err, "mel2mel.bad.weight") && strstr(err, "non-finite"),
          "NaN message: %s", err);
    st_close(f);
    free(nf);
    free(file);
}

static void test_malformed(void) {
    char err[256];
    CHECK(!st_open_memory("", 0, err, sizeof err), "empty accepted");
    /* the reason once; the caller names the path (engine/model.c) */
    CHECK(!st_open("/nonexistent/x.safetensors", err, sizeof err) && strstr(err, "No such file") &&
              !strstr(err, "/nonexistent"),
          "missing file message: %s", err);
    unsigned char huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'};
    CHECK(!st_open_memory(huge, sizeof huge, err, sizeof err) && strstr(err, "header length"),
          "huge header length: %s", err);
    unsigned char over[16] = {9, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
    CHECK(!st_open_memory(over, 12, err, sizeof err), "header longer than file accepted");
    reject("[1,2]", 0, "JSON object");
    reject("{\"a\":", 0, "JSON object");
    reject("{\"__metadata__\":{\"k\":3}}", 0, "not a string");
    reject("{\"__metadata__\":[]}", 0, "not an object");
    reject("{\"t\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype");
    reject("{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape");
    reject("{\"t\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "shape");
    reject("{\"t\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, "shape");
    reject("{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
           "dimensions");
    reject("{\"t\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],"
           "\"data_offsets\":[0,4]}}",
           4, "overflow");
    reject("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "outside");
    reject("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "outside");
    reject("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "outside");
    reject("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, "bytes");
    reject("{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "lacks");
    reject("{\"t\":3}", 4, "not an object");
    reject("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
           "\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
           4, "twice");
    reject("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "twice");
}

int main(void) {
    test_valid();
    test_malformed();
    return check_summary("test_nn_safetensors");
}
