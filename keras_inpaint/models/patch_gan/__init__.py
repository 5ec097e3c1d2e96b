"""PatchGAN discriminator (Isola et al., pix2pix), usable with any generator of the zoo."""

from keras_inpaint.models.patch_gan.patch_gan_discriminator import PatchGANDiscriminator

__all__ = ["PatchGANDiscriminator"]
