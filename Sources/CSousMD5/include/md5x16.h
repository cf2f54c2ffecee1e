#ifndef SOUS_MD5X16_H
#define SOUS_MD5X16_H
#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU can run `sous_md5x16` (x86-64 with AVX-512F), else 0.
int sous_md5x16_available(void);

/// Runs the MD5 compression function over `nblocks` 64-byte blocks of 16 messages at once: lane j reads
/// its blocks from `ptrs[j]` on (each lane must have `nblocks` whole blocks there) and keeps its state in
/// `state[j]`, `state[16 + j]`, `state[32 + j]` and `state[48 + j]` (A, B, C, D). Only call it when
/// `sous_md5x16_available()` returns 1.
void sous_md5x16(uint32_t state[64], const uint8_t *const ptrs[16], size_t nblocks);

#endif
