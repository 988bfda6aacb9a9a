/* safetensors reader: the whole file is read and validated at open (header JSON parsed with
 * Debian's cJSON, every tensor's dtype, shape and byte range checked against the file size),
 * so later lookups cannot read out of bounds.  A menhance model file carries its
 * architecture in the "__metadata__" object as JSON strings under keys such as "frontend",
 * "mel2mel" and "diffwave"; tensors are named "<network>.<layer>.<param>". */
#ifndef MENHANCE_SAFETENSORS_H
#define MENHANCE_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>

typedef struct st_file st_file;

#define ST_MAX_DIMS 8

/* Returns NULL with a human-readable message in err on any malformation. */
st_file *st_open(const char *path, char *err, size_t errlen);
/* Same, from memory (used by the fuzzer); the bytes are copied. */
st_file *st_open_memory(const void *data, size_t size, char *err, size_t errlen);
void st_close(st_file *f);

/* Value of a "__metadata__" string entry, or NULL. */
const char *st_meta(const st_file *f, const char *key);

/* Looks up a float32 tensor and checks its exact shape; returns a pointer to 64-byte aligned
 * data owned by f, or NULL with a message (missing, wrong dtype, wrong shape, non-finite). */
const float *st_tensor_f32(const st_file *f, const char *name, int ndim, const int64_t *shape,
                           char *err, size_t errlen);
/* Shape of a tensor by name; returns ndim or -1 if absent. */
int st_tensor_shape(const st_file *f, const char *name, int64_t *shape);
int st_tensor_count(const st_file *f);
/* Tensors are held sorted by name: index of a name (-1 if absent), name of an index (NULL if out
 * of range).  Loaders mark the tensors they read in a byte array of st_tensor_count() entries. */
int st_tensor_index(const st_file *f, const char *name);
const char *st_tensor_name(const st_file *f, int i);
/* Number of tensors whose name starts with prefix and whose seen[] entry is 0: tensors a network
 * file carries but the network its metadata describes does not use (a metadata/tensor mismatch
 * that would otherwise load as another network).  When nonzero, err names them (up to two). */
int st_unused(const st_file *f, const char *prefix, const unsigned char *seen, char *err,
              size_t errlen);
#endif
