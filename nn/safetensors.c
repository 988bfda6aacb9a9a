/* safetensors reader.  Everything is validated once at open, and the tensor data is copied
 * into 64-byte aligned float storage (F16/BF16/F64 converted), so the rest of the engine
 * only ever sees checked, aligned float32 arrays and cannot be led out of bounds by a file. */
#include "nn/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A header larger than this is not a model file but an attack or a mistake. */
#define ST_MAX_HEADER (100u * 1024u * 1024u)
/* Bounds the work done on hostile headers (sorting, allocation). */
#define ST_MAX_TENSORS 100000
#define ST_ALIGN 64

typedef enum { DT_F32, DT_F16, DT_BF16, DT_F64, DT_OTHER } st_dtype;

typedef struct {
    char *name;
    char dtype_name[16];
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    uint64_t numel;
    float *data; /* NULL for dtypes we do not convert */
} st_tensor;

typedef struct {
    char *key;
    char *value;
} st_meta_entry;

struct st_file {
    st_tensor *tensors; /* sorted by name */
    int ntensors;
    st_meta_entry *meta;
    int nmeta;
    float *storage; /* one aligned block for every tensor's floats */
};

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void st_close(st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->ntensors; i++)
        free(f->tensors[i].name);
    for (int i = 0; i < f->nmeta; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->tensors);
    free(f->meta);
    free(f->storage);
    free(f);
}

/* Element size of a safetensors dtype name; 0 if the name is unknown. */
static int dtype_size(const char *name, st_dtype *dt) {
    static const struct {
        const char *name;
        int size;
        st_dtype dt;
    } table[] = {{"F32", 4, DT_F32},    {"F16", 2, DT_F16},       {"BF16", 2, DT_BF16},
                 {"F64", 8, DT_F64},    {"I64", 8, DT_OTHER},     {"U64", 8, DT_OTHER},
                 {"I32", 4, DT_OTHER},  {"U32", 4, DT_OTHER},     {"I16", 2, DT_OTHER},
                 {"U16", 2, DT_OTHER},  {"I8", 1, DT_OTHER},      {"U8", 1, DT_OTHER},
                 {"BOOL", 1, DT_OTHER}, {"F8_E4M3", 1, DT_OTHER}, {"F8_E5M2", 1, DT_OTHER}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(name, table[i].name)) {
            *dt = table[i].dt;
            return table[i].size;
        }
    return 0;
}

/* JSON numbers are doubles: accept only exact non-negative integers below 2^53. */
static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0.0) || d > 9007199254740992.0 || d != floor(d)) return 0;
    *out = (uint64_t)d;
    return 1;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, mant = h & 1023;
    float v;
    if (exp == 0)
        v = ldexpf((float)mant, -24);
    else if (exp == 31)
        v = mant ? NAN : INFINITY;
    else
        v = ldexpf((float)(mant | 1024), (int)exp - 25);
    return sign ? -v : v;
}

static void convert(const st_tensor *t, const unsigned char *src, float *dst) {
    for (uint64_t i = 0; i < t->numel; i++) {
        switch (t->dtype) {
        case DT_F32: {
            uint32_t u = (uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8 |
                         (uint32_t)src[4 * i + 2] << 16 | (uint32_t)src[4 * i + 3] << 24;
            memcpy(&dst[i], &u, 4);
            break;
        }
        case DT_F16:
            dst[i] = half_to_float((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
            break;
        case DT_BF16: {
            uint32_t u = ((uint32_t)src[2 * i] | (uint32_t)src[2 * i + 1] << 8) << 16;
            memcpy(&dst[i], &u, 4);
            break;
        }
        case DT_F64: {
            uint64_t u = 0;
            for (int b = 7; b >= 0; b--)
                u = u << 8 | src[8 * i + (uint64_t)b];
            double d;
            memcpy(&d, &u, 8);
            dst[i] = (float)d;
            break;
        }
        case DT_OTHER:
            break;
        }
    }
}

static int cmp_tensor(const void *a, const void *b) {
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static int parse_metadata(st_file *f, const cJSON *obj, char *err, size_t errlen) {
    if (!cJSON_IsObject(obj)) {
        set_err(err, errlen, "safetensors: __metadata__ is not an object");
        return 0;
    }
    int n = cJSON_GetArraySize(obj);
    f->meta = calloc((size_t)n + 1, sizeof *f->meta);
    if (!f->meta) {
        set_err(err, errlen, "safetensors: out of memory");
        return 0;
    }
    for (const cJSON *e = obj->child; e; e = e->next) {
        if (!cJSON_IsString(e) || !e->string) {
            set_err(err, errlen, "safetensors: metadata '%s' is not a string",
                    e->string ? e->string : "?");
            return 0;
        }
        st_meta_entry *m = &f->meta[f->nmeta++];
        m->key = dup_str(e->string);
        m->value = dup_str(e->valuestring);
        if (!m->key || !m->value) {
            set_err(err, errlen, "safetensors: out of memory");
            return 0;
        }
    }
    return 1;
}

/* Parses one tensor entry; byte range checked against the data section of data_size bytes. */
static int parse_tensor(st_tensor *t, const cJSON *e, uint64_t data_size, uint64_t *begin,
                        char *err, size_t errlen) {
    const char *name = e->string;
    if (!cJSON_IsObject(e)) {
        set_err(err, errlen, "safetensors: tensor '%s' is not an object", name);
        return 0;
    }
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs)) {
        set_err(err, errlen, "safetensors: tensor '%s' lacks dtype, shape or data_offsets", name);
        return 0;
    }
    int esize = dtype_size(dt->valuestring, &t->dtype);
    if (!esize) {
        set_err(err, errlen, "safetensors: tensor '%s' has unknown dtype '%.15s'", name,
                dt->valuestring);
        return 0;
    }
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", dt->valuestring);
    int nd = cJSON_GetArraySize(shape);
    if (nd > ST_MAX_DIMS) {
        set_err(err, errlen, "safetensors: tensor '%s' has %d dimensions (max %d)", name, nd,
                ST_MAX_DIMS);
        return 0;
    }
    t->ndim = nd;
    uint64_t numel = 1;
    int i = 0;
    for (const cJSON *d = shape->child; d; d = d->next, i++) {
        uint64_t v;
        if (!json_uint(d, &v)) {
            set_err(err, errlen, "safetensors: tensor '%s' has a bad shape entry", name);
            return 0;
        }
        t->shape[i] = (int64_t)v;
        if (__builtin_mul_overflow(numel, v, &numel) || numel > (UINT64_MAX >> 4)) {
            set_err(err, errlen, "safetensors: tensor '%s' shape overflows", name);
            return 0;
        }
    }
    t->numel = numel;
    uint64_t b, en;
    if (cJSON_GetArraySize(offs) != 2 || !json_uint(offs->child, &b) ||
        !json_uint(offs->child->next, &en) || b > en || en > data_size) {
        set_err(err, errlen, "safetensors: tensor '%s' has data_offsets outside the file", name);
        return 0;
    }
    if (en - b != numel * (uint64_t)esize) {
        set_err(err, errlen, "safetensors: tensor '%s' has %llu bytes but its shape needs %llu",
                name, (unsigned long long)(en - b), (unsigned long long)(numel * (uint64_t)esize));
        return 0;
    }
    *begin = b;
    return 1;
}

/* Takes ownership of nothing; buf holds the whole file. */
static st_file *parse(const unsigned char *buf, size_t size, char *err, size_t errlen) {
    if (size < 8) {
        set_err(err, errlen, "safetensors: file too short (%zu bytes)", size);
        return NULL;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | buf[i];
    if (hlen > ST_MAX_HEADER || hlen > size - 8) {
        set_err(err, errlen, "safetensors: header length %llu impossible for a %zu-byte file",
                (unsigned long long)hlen, size);
        return NULL;
    }
    uint64_t data_size = size - 8 - hlen;
    const unsigned char *data = buf + 8 + hlen;
    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hlen);
    if (!root || !cJSON_IsObject(root)) {
        set_err(err, errlen, "safetensors: header is not a JSON object");
        cJSON_Delete(root);
        return NULL;
    }
    st_file *f = calloc(1, sizeof *f);
    uint64_t *begins = NULL;
    int n = cJSON_GetArraySize(root);
    if (!f || n > ST_MAX_TENSORS + 1) {
        set_err(err, errlen, f ? "safetensors: too many tensors (%d)" : "out of memory", n);
        goto fail;
    }
    f->tensors = calloc((size_t)n + 1, sizeof *f->tensors);
    begins = calloc((size_t)n + 1, sizeof *begins);
    if (!f->tensors || !begins) {
        set_err(err, errlen, "safetensors: out of memory");
        goto fail;
    }
    int have_meta = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (!e->string) {
            set_err(err, errlen, "safetensors: header entry without a name");
            goto fail;
        }
        if (!strcmp(e->string, "__metadata__")) {
            if (have_meta++) {
                set_err(err, errlen, "safetensors: __metadata__ appears twice");
                goto fail;
            }
            if (!parse_metadata(f, e, err, errlen)) goto fail;
            continue;
        }
        st_tensor *t = &f->tensors[f->ntensors];
        if (!parse_tensor(t, e, data_size, &begins[f->ntensors], err, errlen)) goto fail;
        t->name = dup_str(e->string);
        if (!t->name) {
            set_err(err, errlen, "safetensors: out of memory");
            goto fail;
        }
        f->ntensors++;
    }
    /* Storage: each converted tensor padded to the alignment so every one starts aligned. */
    uint64_t total = 0;
    for (int i = 0; i < f->ntensors; i++)
        if (f->tensors[i].dtype != DT_OTHER)
            total += (f->tensors[i].numel * 4 + ST_ALIGN - 1) / ST_ALIGN * ST_ALIGN;
    if (total && !(f->storage = aligned_alloc(ST_ALIGN, (size_t)total))) {
        set_err(err, errlen, "safetensors: out of memory (%llu bytes)", (unsigned long long)total);
        goto fail;
    }
    uint64_t pos = 0;
    for (int i = 0; i < f->ntensors; i++) {
        st_tensor *t = &f->tensors[i];
        if (t->dtype == DT_OTHER) continue;
        t->data = f->storage + pos / 4;
        convert(t, data + begins[i], t->data);
        pos += (t->numel * 4 + ST_ALIGN - 1) / ST_ALIGN * ST_ALIGN;
    }
    qsort(f->tensors, (size_t)f->ntensors, sizeof *f->tensors, cmp_tensor);
    for (int i = 1; i < f->ntensors; i++)
        if (!strcmp(f->tensors[i - 1].name, f->tensors[i].name)) {
            set_err(err, errlen, "safetensors: tensor '%s' appears twice", f->tensors[i].name);
            goto fail;
        }
    free(begins);
    cJSON_Delete(root);
    return f;
fail:
    free(begins);
    cJSON_Delete(root);
    st_close(f);
    return NULL;
}

st_file *st_open_memory(const void *data, size_t size, char *err, size_t errlen) {
    /* The parser never keeps a pointer into the input, so no copy is needed for safety;
     * the contract's "bytes are copied" holds because tensor data is copied out. */
    return parse(data, size, err, errlen);
}

st_file *st_open(const char *path, char *err, size_t errlen) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        set_err(err, errlen, "cannot open (%s)", strerror(errno));
        return NULL;
    }
    unsigned char *buf = NULL;
    long size = -1;
    if (fseek(fp, 0, SEEK_END) == 0 && (size = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0)
        buf = malloc(size ? (size_t)size : 1);
    if (!buf || fread(buf, 1, (size_t)size, fp) != (size_t)size) {
        set_err(err, errlen, "cannot read (%s)",
                !buf && size >= 0 ? "out of memory" : strerror(errno));
        free(buf);
        fclose(fp);
        return NULL;
    }
    fclose(fp);
    char msg[256] = "";
    st_file *f = parse(buf, (size_t)size, msg, sizeof msg);
    free(buf);
    if (!f) set_err(err, errlen, "not a valid safetensors file: %s", msg);
    return f;
}

const char *st_meta(const st_file *f, const char *key) {
    for (int i = 0; f && i < f->nmeta; i++)
        if (!strcmp(f->meta[i].key, key)) return f->meta[i].value;
    return NULL;
}

static const st_tensor *find(const st_file *f, const char *name) {
    if (!f || !name) return NULL;
    st_tensor key = {.name = (char *)name};
    return bsearch(&key, f->tensors, (size_t)f->ntensors, sizeof key, cmp_tensor);
}

static void format_shape(char *buf, size_t len, int ndim, const int64_t *shape) {
    size_t p = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < ndim && p < len; i++)
        p += (size_t)snprintf(buf + p, len - p, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (p < len) snprintf(buf + p, len - p, "]");
}

const float *st_tensor_f32(const st_file *f, const char *name, int ndim, const int64_t *shape,
                           char *err, size_t errlen) {
    const st_tensor *t = find(f, name);
    if (!t) {
        set_err(err, errlen, "tensor '%s' missing", name);
        return NULL;
    }
    if (!t->data) {
        set_err(err, errlen, "tensor '%s' has dtype %s; F32 (or F16/BF16/F64) expected", name,
                t->dtype_name);
        return NULL;
    }
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = t->shape[i] == shape[i];
    if (!same) {
        char have[160], want[160];
        format_shape(have, sizeof have, t->ndim, t->shape);
        format_shape(want, sizeof want, ndim, shape);
        set_err(err, errlen, "tensor '%s' has shape %s; %s expected", name, have, want);
        return NULL;
    }
    for (uint64_t i = 0; i < t->numel; i++)
        if (!isfinite(t->data[i])) {
            set_err(err, errlen, "tensor '%s' has a non-finite value at index %llu", name,
                    (unsigned long long)i);
            return NULL;
        }
    return t->data;
}

int st_tensor_shape(const st_file *f, const char *name, int64_t *shape) {
    const st_tensor *t = find(f, name);
    if (!t) return -1;
    if (shape) memcpy(shape, t->shape, (size_t)t->ndim * sizeof *shape);
    return t->ndim;
}

int st_tensor_count(const st_file *f) {
    return f ? f->ntensors : 0;
}

int st_tensor_index(const st_file *f, const char *name) {
    const st_tensor *t = find(f, name);
    return t ? (int)(t - f->tensors) : -1;
}

const char *st_tensor_name(const st_file *f, int i) {
    return f && i >= 0 && i < f->ntensors ? f->tensors[i].name : NULL;
}

int st_unused(const st_file *f, const char *prefix, const unsigned char *seen, char *err,
              size_t errlen) {
    int n = 0;
    size_t plen = strlen(prefix), pos = 0;
    char list[200] = "";
    for (int i = 0; f && i < f->ntensors; i++) {
        if (strncmp(f->tensors[i].name, prefix, plen) || (seen && seen[i])) continue;
        if (n < 2 && pos < sizeof list)
            pos += (size_t)snprintf(list + pos, sizeof list - pos, "%s'%.80s'", n ? ", " : "",
                                    f->tensors[i].name);
        n++;
    }
    if (n)
        set_err(err, errlen, "%d tensor%s the network described by the metadata does not use: %s%s",
                n, n == 1 ? "" : "s", list, n > 2 ? ", ..." : "");
    return n;
}
