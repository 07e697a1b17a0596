// A deliberately broken kernel file: test_backend_opencl points VQR_OPENCL_KERNELS_DIR here and
// expects the build to fail with this compiler message in the error.
__kernel void gemm_tiled(__global float *c) { c[0] = undeclared_identifier_vqr; }
