"""minigen: a from-scratch teaching engine for generative models (NumPy / CuPy autograd)."""
from setuptools import find_packages, setup

setup(
    name="minigen",
    version="0.1.0",
    description="A from-scratch teaching engine for generative AI: autograd on NumPy/CuPy, "
                "layers derived by hand, one readable file per generative model.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["minigen", "minigen.*"]),
    package_data={"minigen.data": ["files/*", "README.md"], "minigen.metrics": ["files/*"], "minigen.models": ["weights/*.npz"]},
    include_package_data=True,
    install_requires=["numpy>=1.24", "tqdm>=4.60", "matplotlib>=3.5", "threadpoolctl>=3"],
    extras_require={
        "cuda": ["cupy-cuda12x>=13"],
        "cuda12": ["cupy-cuda12x>=13"],
        "cuda13": ["cupy-cuda13x>=13"],
        # the PyTorch cross-checks need PyTorch itself (the CPU build of this exact version)
        "test": ["pytest>=7", "hypothesis>=6", "torch==2.13.0", "threadpoolctl"],
        "bench": ["torch==2.13.0"],
    },
    entry_points={"console_scripts": ["minigen=minigen.cli:main"]},
)
